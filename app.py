"""Hugging Face Spaces entry point: build the studio and launch it."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

from emo_app.ui.app import launch  # noqa: E402

if __name__ == "__main__":
    launch(host=os.environ.get("GRADIO_SERVER_NAME"), mcp=os.environ.get("EMO_MCP", "0") == "1")
