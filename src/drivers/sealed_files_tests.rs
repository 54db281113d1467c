//! Licence images' sealed-file bookkeeping on both engines.

use std::io;
use std::sync::Mutex;

use super::*;
use crate::db::conn_tests::on_both_engines;

/// Records the files it re-seals.
#[derive(Default)]
struct Resealed(Mutex<Vec<(String, u32)>>);

impl UploadStore for Resealed {
    // The bookkeeping under test never stores or reads an image.
    fn put(&self, _: &[u8]) -> io::Result<(String, u32)> {
        Err(io::Error::other("not used by the bookkeeping"))
    }
    fn get(&self, _: &str) -> io::Result<Vec<u8>> {
        Err(io::Error::other("not used by the bookkeeping"))
    }
    fn delete(&self, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn reseal(&self, name: &str, key_id: u32) -> io::Result<()> {
        self.0.lock().unwrap().push((name.to_string(), key_id));
        Ok(())
    }
}

#[test]
fn files_are_counted_listed_and_resealed_alike_on_both_engines() {
    on_both_engines(|conn| {
        conn.execute(
            "INSERT INTO users (id, email_index, email, display_name, created_at)
             VALUES ('u1', ?1, 'a@north.edu', 'A', 0)",
            [&[1_u8][..]],
        )
        .unwrap();
        let licence: i64 = conn
            .query_row(
                "INSERT INTO driver_licences (user_id, status, source, review_notes, created_at,
                     front_check, front_mismatches)
                 VALUES ('u1', 'pending_review', 'none', '', 0, 'not_available', '') RETURNING id",
                [] as [i64; 0],
                |r| r.get(0),
            )
            .unwrap();
        for (side, path, key) in [("front", "f1", None), ("back", "f2", Some(1_u32))] {
            conn.execute(
                "INSERT INTO driver_uploads (licence_id, side, path, size, sha256, content_type,
                     width, height, key_id)
                 VALUES (?1, ?2, ?3, 1, '00', 'image/png', 1, 1, ?4)",
                params![licence, side, path, key],
            )
            .unwrap();
        }
        assert_eq!(count(conn).unwrap(), 2);
        assert_eq!(files_per_key(conn).unwrap(), BTreeMap::from([(1, 1)]));
        assert_eq!(files_to_reseal(conn, None).unwrap(), ["f1"]);
        assert_eq!(files_to_reseal(conn, Some(1)).unwrap(), ["f1"]);
        assert_eq!(files_to_reseal(conn, Some(2)).unwrap(), ["f1", "f2"]);

        let store = Resealed::default();
        assert!(reseal_one(conn, &store, "f1", 2).unwrap());
        assert!(!reseal_one(conn, &store, "gone", 2).unwrap(), "no row: the file is left alone");
        assert_eq!(*store.0.lock().unwrap(), [("f1".to_string(), 2)]);
        assert_eq!(files_per_key(conn).unwrap(), BTreeMap::from([(1, 1), (2, 1)]));
        assert_eq!(files_to_reseal(conn, Some(2)).unwrap(), ["f2"]);
    });
}
