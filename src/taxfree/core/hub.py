"""Errors of the Hugging Face hub, mapped in one place to messages that name the config key, and
pinned files of public GitHub repositories, fetched and cached the way hub assets are.

transformers and datasets wrap the hub's own errors (``OSError``, ``DatasetNotFoundError``,
``ConnectionError``) and keep them as the cause, so the chain is searched for the hub's error.
huggingface_hub loads only when an error is mapped: the rules import nothing heavy at parse time.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from taxfree.core.errors import HubError

HUB = "https://huggingface.co"
GITHUB_RAW = "https://raw.githubusercontent.com"


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def _cache_root() -> Path:
    return Path(os.environ.get("HF_HOME", "~/.cache/huggingface")).expanduser()


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def hub_message(error: BaseException, key: str, kind: str, repo_id: str) -> str | None:
    """What went wrong fetching ``repo_id`` (a ``kind``: model or dataset) for config ``key``; None when
    ``error`` did not come from the hub."""
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    page = f"{HUB}/{'datasets/' if kind == 'dataset' else ''}{repo_id}"
    causes = list(_causes(error))
    # Most specific first: GatedRepoError is a RepositoryNotFoundError, and offline errors hide the others.
    if any(isinstance(e, GatedRepoError) for e in causes):
        return (f"config key '{key}': the {kind} '{repo_id}' is gated on the Hugging Face hub: accept its terms "
                f"at {page} with your account, then set HF_TOKEN to a token of that account (read access)")
    if any(isinstance(e, RevisionNotFoundError) for e in causes):
        return f"config key '{key}': the {kind} '{repo_id}' on the Hugging Face hub has no such revision"
    if any(isinstance(e, RepositoryNotFoundError) for e in causes):
        return (f"config key '{key}': no {kind} '{repo_id}' on the Hugging Face hub (or it is private and "
                "HF_TOKEN does not give access to it)")
    # The hub turns a failed connection into LocalEntryNotFoundError when the cache lacks the file;
    # datasets raises the builtin ConnectionError.
    offline = (OfflineModeIsEnabled, LocalEntryNotFoundError, ConnectionError, TimeoutError)
    if any(isinstance(e, offline) for e in causes):
        cache = os.environ.get("HF_HOME", "~/.cache/huggingface")
        why = "HF_HUB_OFFLINE=1 is set" if _offline() else "no network"
        return (f"config key '{key}': the Hugging Face hub was not reachable ({why}) to fetch the {kind} "
                f"'{repo_id}', and it is not in the cache (HF_HOME={cache}); run the fetch jobs where the hub is "
                "reachable (the login node; see docs/cluster.md)")
    return None


@contextmanager
def hub_asset(key: str, kind: str, repo_id: str | None) -> Iterator[None]:
    """Fetch ``repo_id`` inside this block; a hub error becomes a ``HubError`` naming ``key``. Local
    sources (``repo_id`` None) pass through untouched."""
    try:
        yield
    except Exception as error:
        message = hub_message(error, key, kind, repo_id) if repo_id is not None else None
        if message is None:
            raise
        raise HubError(message) from error


def pinned_file(repo: str, revision: str, path: str, key: str) -> Path:
    """``path`` of the public GitHub repository ``repo`` at commit ``revision``: fetched once into the cache
    beside the hub's (``$HF_HOME/taxfree/github/{repo}/{revision}/{path}``), read from there after. Offline
    (HF_HUB_OFFLINE=1 or no network) and not cached, a ``HubError`` names config ``key`` and the URL."""
    cached = _cache_root() / "taxfree" / "github" / repo / revision / path
    if cached.is_file():
        return cached
    url = f"{GITHUB_RAW}/{repo}/{revision}/{path}"
    where = (f"config key '{key}': {url} is not in the cache ({cached}), and")
    advice = "fetch it where the network is reachable (any command that scores with this judge caches it)"
    if _offline():
        raise HubError(f"{where} HF_HUB_OFFLINE=1 is set; {advice}")
    try:
        with urllib.request.urlopen(url, timeout=60) as reply:
            data = reply.read()
    except urllib.error.HTTPError as error:
        raise HubError(f"config key '{key}': {url} answered {error.code}: is the commit '{revision}' of {repo} "
                       "right?") from error
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise HubError(f"{where} it could not be fetched ({error}); {advice}") from error
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(cached.name + ".partial")
    partial.write_bytes(data)
    partial.rename(cached)
    return cached
