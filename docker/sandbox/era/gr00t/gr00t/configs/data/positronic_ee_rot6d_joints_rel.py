# SANDBOX STUB of the positronic gr00t fork's modality config positronic_ee_rot6d_joints_rel (registers nothing: no model here).
NEEDS_JOINTS = True
