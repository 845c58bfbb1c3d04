"""``python -m dualfilter.explore``: print the explorers' parameter declarations and the one
style as JSON, ``{"style": plots.style(), "explorers": {factory name: parameter_spec}}``."""

import json

from .. import plots
from . import all_specs

print(json.dumps({"style": plots.style(), "explorers": all_specs()}, indent=1,
                 ensure_ascii=False))
