"""The datatrove block under datatrove's Ray executor, on a local Ray cluster (loopback):
two tasks in Ray workers drop exactly the documents the local executor drops."""

from __future__ import annotations

import sys
import textwrap

import pytest

from conftest import run
from test_audit import history  # noqa: F401  (the fixture)
from test_datatrove import AI_COMMITS, example, exported, ids, read_docs  # noqa: F401

PIPELINE = textwrap.dedent('''
    import sys

    import ray
    from datatrove.executor import RayPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from aiguard.datatrove import AIProvenanceFilter

    source, export, out, level = sys.argv[1:5]
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        RayPipelineExecutor(
            pipeline=[
                JsonlReader(source),
                AIProvenanceFilter(exports=export, level=level,
                                   exclusion_writer=JsonlWriter(out + "/removed", compression=None)),
                JsonlWriter(out + "/kept", compression=None),
            ],
            tasks=2, workers=2, cpus_per_task=1, mem_per_cpu_gb=0.25,
            logging_dir=out + "/logs", skip_completed=False,
        ).run()
    finally:
        ray.shutdown()
''')


@pytest.mark.parametrize("level", ["commit", "lines"])
def test_the_ray_executor_drops_what_the_local_one_drops(exported, tmp_path, level):  # noqa: F811
    pytest.importorskip("ray")
    repo, shas, export_file, _ = exported
    extra = ("--level", "lines", "--unit", "chunk", "--chunk-lines", "2") if level == "lines" else ()
    local = example(repo, export_file, tmp_path / "local", *extra)
    if level == "commit":
        ai = {shas[k] for k in AI_COMMITS}
        assert ids(local["removed"]) == {d["id"] for d in local["input"] if d["metadata"]["commit"] in ai}
    script = tmp_path / "ray_pipeline.py"
    script.write_text(PIPELINE)
    run([sys.executable, str(script), str(tmp_path / "local" / "input"), str(export_file), str(tmp_path / "ray"), level])
    kept, removed = read_docs(tmp_path / "ray" / "kept"), read_docs(tmp_path / "ray" / "removed")
    assert ids(removed) == ids(local["removed"]) and ids(kept) == ids(local["kept"])
    logs = tmp_path / "ray" / "logs"
    assert "ray_remote_kwargs" in (logs / "executor.json").read_text()  # the Ray executor wrote it
    assert sorted(p.name for p in (logs / "completions").iterdir()) == ["00000", "00001"]  # both tasks ran
    for doc in removed:
        assert doc["metadata"]["ai_derived"] is True
