"""The README's two commands are the ones CI and users run: keep them true."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fenced_commands():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, re.S)


def test_ci_runs_the_readme_test_command():
    test_cmd = fenced_commands()[1].strip()
    assert "pytest" in test_cmd
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd in ci, "the README's test command must appear verbatim in .ci/run"


def test_the_main_command_uses_a_bundled_sample_and_its_claim():
    main_cmd = fenced_commands()[0]
    sample = re.search(r"convoycount count (\S+)", main_cmd).group(1)
    assert (ROOT / sample).is_file()
    claim = (ROOT / sample).with_suffix(".claim.txt").read_text().strip()
    assert f'"{claim}"' in main_cmd
