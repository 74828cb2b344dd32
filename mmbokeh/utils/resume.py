"""``--resume`` without a path: the newest checkpoint of the work dir that is complete, skipping broken ones."""
import os.path as osp
import re
import zipfile
from glob import glob
from typing import List, Optional, Tuple

_NUMBERED = re.compile(r'(?:iter|epoch)_(\d+)\.pth$')


def _is_complete(path: str) -> bool:
    """A torch checkpoint (zip format) whose archive is whole: a truncated write loses the central directory at
    the end of the file, so opening the archive (reading only that directory, not the tensors) tells."""
    try:
        with zipfile.ZipFile(path):
            return True
    except (OSError, zipfile.BadZipFile, EOFError):
        return False


def latest_complete_checkpoint(work_dir: str) -> Tuple[Optional[str], List[str]]:
    """(newest complete checkpoint or None, broken checkpoints skipped on the way).

    Candidates: the file named by mmengine's ``last_checkpoint`` pointer, then ``iter_N.pth`` / ``epoch_N.pth``
    from the highest N down.
    """
    candidates = []
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer, encoding='utf-8') as f:
            named = f.read().strip()
        if named:
            candidates.append(named)
    numbered = [p for p in glob(osp.join(work_dir, '*.pth')) if _NUMBERED.search(osp.basename(p))]
    candidates += sorted(numbered, key=lambda p: int(_NUMBERED.search(osp.basename(p)).group(1)), reverse=True)
    skipped: List[str] = []
    for path in dict.fromkeys(candidates):
        if osp.isfile(path) and _is_complete(path):
            return path, skipped
        if osp.exists(path):
            skipped.append(path)
    return None, skipped
