"""Where files live: folder, bucket, publishing, the part store, retries."""
