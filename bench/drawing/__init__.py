"""What every figure shares: client styles, saving, window bars."""
