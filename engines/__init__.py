"""Export, center-matching kernel, engine builds and inference backends behind one interface."""
