"""``python -m dualfilter.explore``: print every explorer's parameter declaration as JSON."""

import json

from . import all_specs

print(json.dumps(all_specs(), indent=1, ensure_ascii=False))
