"""Everything that touches the outside: export files, the Customer API, the state store."""
