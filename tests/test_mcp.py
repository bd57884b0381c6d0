"""`serve --mcp`: the studio's API is exposed as MCP tools."""

from __future__ import annotations

import socket
import warnings

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
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                    mcp_server=True, **launch_kwargs())
    try:
        schema = httpx.get(f"http://127.0.0.1:{port}/gradio_api/mcp/schema", timeout=60).json()
    finally:
        demo.close()
    names = {tool["name"] for tool in schema}
    # a rater's endpoints need the session's sign-in, which an MCP tool never has (Gradio warned
    # that their gr.State "will not be updated between tool calls")
    assert not {name for name in names if name.startswith("study_") and ("vote" in name or "show" in name)}
    assert not [w for w in caught if "gr.State input" in str(w.message)]
    expected = {"describe", "render_weights", "score_face", "sphere_point", "walk", "capture", "benchmark"}
    assert expected <= names
    assert not any(name.startswith("wrapper") for name in names)
