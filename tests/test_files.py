"""``colormae.files``: atomic writes leave the exact bytes and no temporary file."""

from colormae.files import atomic_write_text


def test_atomic_write_text_keeps_the_text_exactly(tmp_path):
    path = tmp_path / "sub" / "a.csv"
    atomic_write_text(path, "x,y\r\n1,é\r\n")
    atomic_write_text(path, "x,y\r\n2,é\r\n")  # replaces
    assert path.read_bytes() == "x,y\r\n2,é\r\n".encode()
    assert [p.name for p in path.parent.iterdir()] == ["a.csv"]
