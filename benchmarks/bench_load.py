"""The load test (16 gradio_client clients x 200 /describe) as a make-bench entry."""

from benchmarks.load_test import run  # noqa: F401  (make bench includes the load test)
