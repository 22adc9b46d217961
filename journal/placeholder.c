/* placeholder */ typedef int folio_journal_placeholder;
