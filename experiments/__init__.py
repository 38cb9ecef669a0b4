"""Research tools: seed sweeps, structure probes, measurement scripts, and their saved results.

Not part of the product (nothing in station, training, engines or ui imports
this package). Each tool is a module run from the repository root with the
command on the first line of its docstring; see README.md here.
"""
