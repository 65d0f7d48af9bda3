"""The library: the gallery, one image in detail, curation, projects and collections, sharing, downloads
and the trash."""
