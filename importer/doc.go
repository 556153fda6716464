// Package importer runs contact imports and exports, and keeps the contacts' external
// references (external_refs). An import streams a file through contactfile's reader, validates
// and normalizes records with every core, and commits each batch — new contacts through
// contact's bulk writes, their references, the row errors and the import's progress — in one
// transaction; a stopped import resumes where its last batch committed. An export streams the
// contact store's contacts through a contactfile writer. It must not parse formats itself (that
// is package contactfile's) nor write contacts except through package contact.
package importer
