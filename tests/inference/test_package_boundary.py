"""inference/ is plain PyTorch + tiktoken: importing it must not pull in the web stack."""

import subprocess
import sys


def test_importing_inference_loads_no_web_or_queue_framework():
    code = (
        "import sys, inference, inference.__main__; "
        "bad = [m for m in ('django', 'channels', 'celery', 'transformers') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
