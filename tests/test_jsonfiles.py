"""recognizer.jsonfiles: a JSON file, or a default when it is missing, damaged or of another type."""

from recognizer.jsonfiles import read_json_or


def test_read_json_or_a_default(tmp_path):
    good, broken, listed = tmp_path / "good.json", tmp_path / "broken.json", tmp_path / "list.json"
    good.write_text('{"a": 1}')
    broken.write_text('{"a": ')
    listed.write_text("[1, 2]")
    assert read_json_or(good, {}) == {"a": 1}
    assert read_json_or(broken, {}) == {} and read_json_or(broken) is None
    assert read_json_or(tmp_path / "missing.json", {"x": 0}) == {"x": 0}
    assert read_json_or(listed, {}) == {}  # not a dict: the default's type wins
    assert read_json_or(listed) == [1, 2]  # no default: any JSON
