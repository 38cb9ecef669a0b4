"""The QA review window: rolls, defect gallery, keyboard review, grading and reports."""
