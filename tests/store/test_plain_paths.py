"""The commit hook's plain-string paths name the files the Path functions name."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiguard.store import ledger, paths


@pytest.mark.parametrize("name", ["/home/a b/ledger.sqlite3", "/x/50%?#&=+;,@!$'()*[]:/l.sqlite3",
                                  "/tmp/déjà vu/ledger.sqlite3", "/tmp/\udcff raw/ledger", "/a.b/ledger",
                                  "/a/.ledger", "/a/ledger.", "/a/ledger.tar.gz", "/a/~user/-_.x"])
def test_uri_and_index_name_are_pathlibs(name):
    assert ledger.file_uri(name) == Path(name).as_uri()
    assert ledger.index_name(name) == str(Path(name).with_suffix(ledger.INDEX_SUFFIX))
    assert ledger.index_file(name) == Path(name).with_suffix(ledger.INDEX_SUFFIX)


def test_a_relative_path_is_refused_as_pathlib_refuses_it():
    with pytest.raises(ValueError):
        Path("ledger.sqlite3").as_uri()
    with pytest.raises(ValueError):
        ledger.file_uri("ledger.sqlite3")


def test_the_files_are_the_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGUARD_HOME", str(tmp_path / "state"))
    assert Path(paths.ledger_file()) == paths.ledger_path() == tmp_path / "state" / "ledger.sqlite3"
    assert Path(paths.keyset_file()) == paths.keyset_path()
    assert Path(paths.keystore_marker_file()) == paths.keystore_marker_path()
