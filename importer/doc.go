// Package importer runs contact imports and exports. An import streams a file through contactfile's reader,
// validates and normalizes records with every core, and hands batches to the contact store,
// which commits each batch with the import's progress; a stopped import resumes where its last
// batch committed. An export streams the store's contacts through a contactfile writer. It
// must not hold SQL (that is package contact's) nor parse formats itself
// (that is package contactfile's).
package importer
