"""Writers: each consumes Records only and never reaches back into the runner."""
