"""Solidity sources, compiled artifacts and the Python loader of their ABIs."""
