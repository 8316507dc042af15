"""Models of the test app. Each area keeps its models in ``models_<area>.py``;
import them here so Django registers them."""

from tests.testapp.models_compat import *  # noqa: F403
from tests.testapp.models_fastpath import *  # noqa: F403
from tests.testapp.models_hypermedia import *  # noqa: F403
from tests.testapp.models_observer import *  # noqa: F403
from tests.testapp.models_permissions import *  # noqa: F403
from tests.testapp.models_streams import *  # noqa: F403
