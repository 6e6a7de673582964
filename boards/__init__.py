"""Board descriptions (`<name>.yaml`) and their validating loader."""

from boards.loader import (
    DEFAULT_BOARD,
    Board,
    BoardError,
    MemoryBank,
    Pcie,
    list_boards,
    load_board,
)

__all__ = ["DEFAULT_BOARD", "Board", "BoardError", "MemoryBank", "Pcie", "list_boards",
           "load_board"]
