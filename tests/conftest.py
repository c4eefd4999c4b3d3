import os
import sys
from pathlib import Path

# Tests always run the course at small size, whatever the caller set.
os.environ["COURSE_SIZE"] = "small"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parent))
