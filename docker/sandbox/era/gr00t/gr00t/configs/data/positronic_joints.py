# SANDBOX STUB of the positronic gr00t fork's modality config positronic_joints (registers nothing: no model here).
NEEDS_JOINTS = True
