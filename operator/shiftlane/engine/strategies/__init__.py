"""One compile function per strategy: a strategy's spec in, a Plan of primitive steps out."""
