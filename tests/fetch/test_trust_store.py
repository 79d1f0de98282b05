"""Trust without friction: publishers, trusted prefixes, trust on first use then pinned (F19)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import zoo
import zoo.download.fetcher
from zoo.download import trust as trust_store
from zoo.errors import IntegrityError, InvalidOptionError, UntrustedModelError

from .conftest import make_tar, sha
from .server import Server

ARCHIVE = make_tar({"saved_model.pb": b"graph", "variables/variables.index": b"idx"})
CHANGED = make_tar({"saved_model.pb": b"other graph", "variables/variables.index": b"idx"})


def _store(isolated: Path) -> dict[str, object]:
    path = isolated.parent / "zoo_home" / "trust.json"
    return dict(json.loads(path.read_text()))


def test_a_trusted_prefix_loads_an_unpinned_archive_and_records_its_hash(
    server: Server, isolated: Path
) -> None:
    """F19: `zoo trust PREFIX` vouches; the first load records the sha256 (trust on first use)."""
    url = server.route("/team/model.tar.gz", ARCHIVE)
    with pytest.raises(UntrustedModelError, match="zoo trust"):
        zoo.download.fetcher.fetch_archive(url)
    assert zoo.trust(server.base) == server.base + "/"
    out = zoo.download.fetcher.fetch_archive(url)
    assert (out / "saved_model.pb").read_bytes() == b"graph"
    hashes = _store(isolated)["hashes"]
    assert isinstance(hashes, dict)
    assert hashes[url]["sha256"] == sha(ARCHIVE)
    assert "trusted prefix" in hashes[url]["via"]


def test_changed_bytes_behind_a_trusted_prefix_are_refused_with_both_hashes(
    server: Server,
) -> None:
    """F4/F19: like an SSH host key, a changed archive is refused; untrust forgets the hash."""
    url = server.route("/team/model.tar.gz", ARCHIVE)
    zoo.trust(server.url("/team/"))
    zoo.download.fetcher.fetch_archive(url)
    server.route("/team/model.tar.gz", CHANGED)
    cache = zoo.download.fetcher.cache_root()
    for sub in ("blobs", "extracted", "index.json"):  # a fresh cache: only the store remembers
        path = cache / sub
        if path.is_dir():
            import shutil

            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    with pytest.raises(IntegrityError) as info:
        zoo.download.fetcher.fetch_archive(url)
    message = str(info.value)
    assert sha(ARCHIVE) in message and sha(CHANGED) in message
    assert "changed since you first loaded it" in message and f"zoo untrust {url}" in message
    assert info.value.expected == sha(ARCHIVE) and info.value.received == sha(CHANGED)
    assert not (cache / "extracted" / sha(CHANGED)).exists()
    # forgetting the one URL's hash keeps the prefix trusted and accepts the new bytes
    assert zoo.untrust(url) == [url]
    out = zoo.download.fetcher.fetch_archive(url)
    assert (out / "saved_model.pb").read_bytes() == b"other graph"


def test_explicit_trust_is_pinned_on_first_use_too(server: Server) -> None:
    """trust=True vouches once; the bytes it vouched for are the ones later loads accept."""
    url = server.route("/model.tar.gz", ARCHIVE)
    zoo.download.fetcher.fetch_archive(url, trust=True)
    assert trust_store.recorded_hash(url) == sha(ARCHIVE)
    # a second load (cache hit) checks against the recorded hash without a request
    zoo.download.fetcher.fetch_archive(url, trust=True)
    assert len(server.hits("/model.tar.gz")) == 1


def test_untrust_removes_the_prefix_and_its_hashes(server: Server) -> None:
    url = server.route("/team/a.tar.gz", ARCHIVE)
    zoo.trust(server.url("/team/"))
    zoo.download.fetcher.fetch_archive(url)
    removed = zoo.untrust(server.url("/team"))
    assert server.url("/team/") in removed and url in removed
    with pytest.raises(UntrustedModelError):
        zoo.download.fetcher.fetch_archive(url)
    with pytest.raises(InvalidOptionError, match="nothing is trusted"):
        zoo.untrust(server.url("/team/"))


@pytest.mark.parametrize(
    ("prefix", "url", "matches"),
    [
        (
            "https://tfhub.dev/google/",
            "https://tfhub.dev/google/x/1?tf-hub-format=compressed",
            True,
        ),
        ("https://tfhub.dev/google/", "https://tfhub.dev/googlex/x/1", False),
        ("https://tfhub.dev/google/", "https://tfhub.dev.evil.example/google/x/1", False),
        ("https://tfhub.dev/google/", "https://TFHUB.dev:443/google/x/1", True),
        ("https://tfhub.dev/google/", "https://tfhub.dev/google/../evil/x/1", False),
        ("https://tfhub.dev/google/", "https://tfhub.dev/google/%2e%2e/evil/x/1", False),
        ("https://tfhub.dev/google/", "http://tfhub.dev/google/x/1", False),
        (
            "https://www.kaggle.com/models/google/",
            "https://www.kaggle.com/api/v1/models/google/m/tensorFlow2/v/1/download",
            True,
        ),
        (
            "https://www.kaggle.com/models/google/",
            "https://www.kaggle.com/api/v1/models/someone/m/tensorFlow2/v/1/download",
            False,
        ),
    ],
)
def test_prefixes_match_whole_segments_of_normalized_urls(
    prefix: str, url: str, matches: bool
) -> None:
    assert trust_store._matches(trust_store.normalize_prefix(prefix), url) is matches


@pytest.mark.parametrize(
    "bad",
    ["ftp://x/", "tfhub.dev/google/", "https://user:pw@x/", "https://x/a?b=1", "https://x/../"],
)
def test_a_malformed_prefix_is_refused(bad: str) -> None:
    with pytest.raises(InvalidOptionError):
        zoo.trust(bad)


def test_built_in_publishers_vouch_unless_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's tfhub.dev/google handles need no trust=True; ZOO_TRUST_PUBLISHERS=0 stops it."""
    url = "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"
    assert trust_store.vouched_by(url) == "the trusted publisher https://tfhub.dev/google/"
    assert trust_store.vouched_by("https://tfhub.dev/someone/model/1") is None
    monkeypatch.setenv("ZOO_TRUST_PUBLISHERS", "0")
    assert trust_store.vouched_by(url) is None
    assert not [e for e in zoo.trusted() if e.origin == "built-in" and e.active]
    monkeypatch.delenv("ZOO_TRUST_PUBLISHERS")
    zoo.untrust("https://tfhub.dev/google/")  # one built-in switched off, for this user
    assert trust_store.vouched_by(url) is None
    zoo.trust("https://tfhub.dev/google/")
    assert trust_store.vouched_by(url) is not None


def test_require_hashes_mode_is_not_relaxed_by_trust(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Strict mode: a trusted prefix and a first-use hash are no pin; nothing is downloaded."""
    url = server.route("/team/model.tar.gz", ARCHIVE)
    zoo.trust(server.base)
    zoo.download.fetcher.fetch_archive(url)
    monkeypatch.setenv("ZOO_REQUIRE_HASHES", "1")
    with pytest.raises(IntegrityError, match="require-hashes"):
        zoo.download.fetcher.fetch_archive(url)
    assert (
        zoo.download.fetcher.fetch_archive(url, sha256=sha(ARCHIVE)) / "saved_model.pb"
    ).exists()


def test_the_cli_trusts_lists_and_untrusts(server: Server, isolated: Path) -> None:
    """`zoo trust PREFIX`, `zoo trust --list --json`, `zoo untrust PREFIX` in a real process."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "zoo", *args], capture_output=True, text=True, check=False
        )

    done = run("trust", server.base)
    assert done.returncode == 0, done.stderr
    assert server.base + "/" in done.stdout
    listed = run("trust", "--list", "--json")
    rows = json.loads(listed.stdout)
    assert {"prefix": server.base + "/", "origin": "user", "active": True}.items() <= next(
        r for r in rows if r["origin"] == "user"
    ).items()
    assert any(r["prefix"] == "https://tfhub.dev/google/" for r in rows)
    gone = run("untrust", server.base)
    assert gone.returncode == 0 and "untrusted" in gone.stdout
    again = run("untrust", server.base)
    assert again.returncode == 1 and "nothing is trusted" in again.stderr


def test_the_trust_commands_do_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "from zoo.cli import main\n"
        "try:\n"
        "    main(['trust', '--list'])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('TF', 'tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("TF False")
