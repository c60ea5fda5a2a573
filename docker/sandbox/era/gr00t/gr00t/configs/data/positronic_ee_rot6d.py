# SANDBOX STUB of the positronic gr00t fork's modality config positronic_ee_rot6d (registers nothing: no model here).
NEEDS_JOINTS = False
