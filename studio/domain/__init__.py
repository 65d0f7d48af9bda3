"""Pure rules of the studio. Imports no IO library."""
