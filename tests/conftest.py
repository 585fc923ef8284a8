"""Settings every test directory shares.

Hypothesis: no per-example deadline. The default (200 ms) is a timing check, and this project keeps speed out
of its tests (benchmarks print ratios instead); on this 2-core machine the unit tests run while the test-bed VM
boots, and a deadline there fails a correct test. A test's own @settings still wins."""
from hypothesis import settings

settings.register_profile("gpulab", deadline=None)
settings.load_profile("gpulab")
