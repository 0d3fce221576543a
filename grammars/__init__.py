"""The cnndsl grammar, shipped as package data so every install finds it."""
