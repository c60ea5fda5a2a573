# SANDBOX STUB of gr00t's gr00t/data/embodiment_tags.py (NVIDIA/Isaac-GR00T): the tags its finetune and server
# command lines take (tyro parses `--embodiment_tag` / `--embodiment-tag` into this enum by value). Shared by the
# stubs launch_finetune.py and run_gr00t_server.py, as upstream's both import it from here; the image installs
# /gr00t into gr00t's venv (a .pth, as its editable install does), so `gr00t.data` imports from any script.
import enum


class EmbodimentTag(enum.Enum):
    GR1 = "gr1"
    OXE_DROID = "oxe_droid"
    GENIE1_GRIPPER = "genie1_gripper"
    NEW_EMBODIMENT = "new_embodiment"
