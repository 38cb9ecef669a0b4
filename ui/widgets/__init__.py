"""Qt widgets shared by the operator and QA windows."""
