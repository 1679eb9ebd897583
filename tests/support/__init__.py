"""What several test modules share: fakes, fixtures, drivers of the real app. Test modules
import from here, never from one another."""
