"""The papers front door: what every package needs to know about papers, below them all.

``ids`` parses arXiv identifiers, ``text`` cleans titles, abstracts and author names as
they are stored, ``authors`` says which stored authors a name means. Ingest writes
papers with these; web, index, rank, digest and community read them through them."""
