"""The library's pieces: the gallery, its filters and tiles, one image, projects and collections, sharing."""
