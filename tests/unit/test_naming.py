from pathlib import Path

import pytest

from crucible.exceptions import InvalidInputError
from crucible.naming import SLUG_MAX_LENGTH, check_slug, inside


@pytest.mark.parametrize("name", ["egfr-demo", "a", "run_1.v2", "A" * SLUG_MAX_LENGTH])
def test_check_slug_accepts_safe_names(name: str) -> None:
    assert check_slug(name, "design.name") == name


@pytest.mark.parametrize(
    "name",
    ["", "../../x", "a/b", "a..b", ".hidden", "-x", "a b", "é", "A" * (SLUG_MAX_LENGTH + 1), 5],
)
def test_check_slug_refuses_unsafe_names(name: object) -> None:
    with pytest.raises(InvalidInputError, match=r"design\.name"):
        check_slug(name, "design.name")


def test_inside_keeps_paths_under_root(tmp_path: Path) -> None:
    assert inside(tmp_path, "a", "b.csv") == (tmp_path / "a" / "b.csv").resolve()
    assert inside(tmp_path, tmp_path / "c") == (tmp_path / "c").resolve()


def test_inside_refuses_escapes_and_links(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    for parts in (("..", "x"), ("/etc/passwd",), ("link", "x")):
        with pytest.raises(InvalidInputError, match=r"ligands\.path"):
            inside(tmp_path / "root", *parts, field="ligands.path")
