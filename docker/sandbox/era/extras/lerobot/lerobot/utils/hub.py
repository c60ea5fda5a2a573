"""STUB of lerobot/utils/hub.py (lerobot 0.4.3) and the part of huggingface_hub it reaches: the Hub as its local
cache. The sandbox cannot reach the Hub; huggingface_hub, when it cannot, serves a file from the cache
(~/.cache/huggingface/hub/models--<org>--<name>/snapshots/<refs/main>/<file>) and otherwise fails, which
lerobot's from_pretrained turns into "... not found on the HuggingFace Hub in <repo>". HubMixin.save_pretrained
as lerobot's: the folder made, then the subclass's _save_pretrained; no push (the stub has no Hub)."""
import os
from pathlib import Path

from lerobot.utils.constants import HF_HOME


class LocalEntryNotFoundError(FileNotFoundError):
    """huggingface_hub.errors.LocalEntryNotFoundError: offline and not in the cache."""


def hf_hub_download(repo_id: str, filename: str, revision: str | None = None, cache_dir=None, **_) -> str:
    cache = Path(cache_dir or os.getenv("HF_HUB_CACHE", Path(HF_HOME) / "hub"))
    folder = cache / f"models--{repo_id.replace('/', '--')}"
    ref = folder / "refs" / (revision or "main")
    commit = ref.read_text().strip() if ref.is_file() else revision
    path = folder / "snapshots" / str(commit) / filename
    if not commit or not path.is_file():
        raise LocalEntryNotFoundError(
            "An error happened while trying to locate the file on the Hub and we cannot find the requested files "
            "in the local cache. Please check your connection and try again or make sure your Internet connection "
            "is on.")
    return str(path)


class HubMixin:
    def save_pretrained(self, save_directory, *, repo_id=None, push_to_hub: bool = False, card_kwargs=None,
                        **push_to_hub_kwargs):
        save_directory = Path(save_directory)
        save_directory.mkdir(parents=True, exist_ok=True)
        self._save_pretrained(save_directory)
        if push_to_hub:
            raise NotImplementedError("the sandbox has no Hub to push to")
        return None

    def _save_pretrained(self, save_directory: Path) -> None:
        raise NotImplementedError
