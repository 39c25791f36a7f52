"""The remote batch checker: track submitted batches and download what finished."""
