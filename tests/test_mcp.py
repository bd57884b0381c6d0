"""`serve --mcp`: the studio's API is exposed as MCP tools."""

from __future__ import annotations

import socket

import pytest

pytestmark = pytest.mark.slow


def test_mcp_server_lists_the_studio_tools():
    import httpx

    from emo_app.ui.app import build_app, launch_kwargs

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = build_app()
    demo.queue(max_size=8)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                mcp_server=True, **launch_kwargs())
    try:
        schema = httpx.get(f"http://127.0.0.1:{port}/gradio_api/mcp/schema", timeout=60).json()
    finally:
        demo.close()
    names = {tool["name"] for tool in schema}
    expected = {"describe", "render_weights", "score_face", "sphere_point", "walk", "capture", "benchmark"}
    assert expected <= names
    assert not any(name.startswith("wrapper") for name in names)
