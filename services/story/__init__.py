"""The story and its text: the validated story, caption paging, languages."""
