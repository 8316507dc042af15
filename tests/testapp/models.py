"""Models of the test app. Each area keeps its models in ``models_<area>.py``;
import them here so Django registers them."""
