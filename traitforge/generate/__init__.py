"""Generation of trait data from a traits document: midtraining documents and SFT chats."""
from traitforge.generate.chats import ChatsConfig, run_chats
from traitforge.generate.docs import DocsConfig, run_docs
from traitforge.generate.traits import Trait, parse_traits

__all__ = ["ChatsConfig", "DocsConfig", "Trait", "parse_traits", "run_chats", "run_docs"]
