# SANDBOX STUB of the positronic gr00t fork's modality config positronic_ee_rot6d (registers nothing: no model here).
NEEDS_JOINTS = False
# The action block it declares, as positronic's codecs read it (vendors/gr00t/codecs.py groot_action): what the
# server stub returns, at rest (zeros, the identity rotation).
ACTION = {"ee_pose": 9, "grip": 1}
