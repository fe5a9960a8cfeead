import json
from pathlib import Path

import pytest

from crucible.cli import main


def test_info_prints_resolved_stores(
    crucible_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["campaign_store_url"].endswith("campaigns.db")
    assert report["settings"]["home"] == str(crucible_home)
    assert report["packages"]["torch"].startswith("2.13.0")
