"""Performance Insights (`pi`): DB load of the DB instances that have it, from the sampler's records."""

from kura.services.pi import catalog as catalog
from kura.services.pi import keys as keys
from kura.services.pi import metrics as metrics
