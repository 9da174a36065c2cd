from kura.cli import main

raise SystemExit(main())
