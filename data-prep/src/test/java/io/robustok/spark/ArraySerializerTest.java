package io.robustok.spark;

import org.apache.spark.SparkConf;
import org.apache.spark.serializer.KryoSerializer;
import org.apache.spark.serializer.SerializerInstance;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import scala.reflect.ClassTag$;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Arrays through Spark's Kryo with our registrator: bulk-copied, bit for bit, whatever their layout. */
class ArraySerializerTest {

    static SerializerInstance kryo() {
        return new KryoSerializer(new SparkConf().set("spark.kryo.registrator", KryoRegistration.class.getName())
                .set("spark.kryoserializer.buffer.max", "64m")).newInstance();
    }

    @SuppressWarnings("unchecked")
    static <T> T roundTrip(SerializerInstance k, T v) {
        ByteBuffer b = k.serialize(v, ClassTag$.MODULE$.apply(Object.class));
        return (T) k.deserialize(b, ClassTag$.MODULE$.apply(Object.class));
    }

    @Test
    void everyLayoutAndTypeComesBackIdentical() {
        SerializerInstance k = kryo();
        INDArray m = Nd4j.linspace(-3, 3, 3 * 5 * 7, DataType.FLOAT).reshape(3, 5, 7);
        List<INDArray> cases = List.of(
                m,
                m.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.point(2)), // a view
                m.dup('f'),
                Nd4j.linspace(0, 1, 3_000_001, DataType.FLOAT), // more than one 1 MiB chunk
                m.castTo(DataType.BFLOAT16), m.castTo(DataType.HALF), m.castTo(DataType.DOUBLE),
                Nd4j.createFromArray(new int[]{1, -2, 3}), Nd4j.createFromArray(new long[]{Long.MAX_VALUE, -1}),
                Nd4j.createFromArray(true, false, true),
                Nd4j.scalar(2.5f), Nd4j.empty(DataType.FLOAT));
        for (INDArray a : cases) {
            INDArray back = roundTrip(k, a);
            assertEquals(a.dataType(), back.dataType());
            assertArrayEquals(a.shape(), back.shape());
            assertEquals(a, back, a.shapeInfoToString());
            assertFalse(back.isView());
        }
        // the maps the trainer sends
        LinkedHashMap<String, INDArray> state = new LinkedHashMap<>();
        state.put("enc/w", m);
        state.put("enc/w#m", m.mul(0.5));
        LinkedHashMap<String, INDArray> back = roundTrip(k, state);
        assertEquals(state.keySet(), back.keySet());
        assertEquals(state.get("enc/w#m"), back.get("enc/w#m"));
    }

    @Test
    void bulkFormatIsAboutTheSizeOfTheRawBytes() {
        // ND4J's own format is about this size too; this pins that no per-element framing crept in
        INDArray a = Nd4j.rand(DataType.FLOAT, 1000, 1000);
        int size = kryo().serialize(a, ClassTag$.MODULE$.apply(Object.class)).remaining();
        assertTrue(size >= 4_000_000 && size < 4_000_200, "bytes " + size);
    }
}
